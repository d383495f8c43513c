"""Script languages: which language runs a model's script, and FEEL as one of them.

`script_languages` maps a `scriptFormat` or expression `language` to Python (the sandbox),
JavaScript or FEEL and is the one entry point that runs a script; `feel_scripts` runs FEEL on
the DMN engine's FEEL.

May import: `dmn`, `languages`, `flowdesk`'s errors. Never a layer above.
"""
