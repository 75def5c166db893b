"""Business logic the routers, the command line and the tests call."""
