"""The service's use cases, one module per domain, written against the database session and the decision
core. The entry points (`miaopi`) and the HTTP layer (`api`) call these; nothing here knows of HTTP or
the command line."""
