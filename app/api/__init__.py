"""HTTP routers: thin, they validate input and call a service."""
