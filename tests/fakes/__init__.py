"""Fakes of external services (APNs, ...) that speak the real wire protocols, for tests and benchmarks."""
