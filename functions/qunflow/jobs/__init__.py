"""Jobs: what a command or a Cloud Function runs, each wiring the pure rooms to a store, a clock and HTTP.

tick, preview, demo, ingest, import, housekeeping, the metrics job and report posting, init, doctor,
the Cloud Scheduler jobs and the write-ahead journal. May import every room above it.
"""
