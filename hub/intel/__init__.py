"""The STIX store: ingest, versions, observables index, reads, search, revocation."""
