"""HTTP only: the app factory, routes, middleware and handlers that parse, call a domain, render."""
