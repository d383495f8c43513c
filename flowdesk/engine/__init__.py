"""SpiffWorkflow adapter: the only package that imports SpiffWorkflow."""
