"""The store: content-addressed blobs (one contract, filesystem and S3 drivers), the catalog, the local library, archives and GC."""
