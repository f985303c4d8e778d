"""The solver service: an HTTP API (FastAPI on uvicorn) over the core engine,
with jobs kept in SQLite and run in processes of their own (docs/service.md).
Needs the optional extra ``wopmatch[service]``."""
