"""Connectors to external systems (sensor brokers, HTTP ingestion), one module per system.

They talk to the app only through one narrow ingestion function, never through a Flask request
context, and they never run the workflow engine themselves.
"""
