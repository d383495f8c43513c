"""Business processes shipped with flowdesk; each uses only the public `flowdesk` API."""
