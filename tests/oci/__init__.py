"""Tests of the pure OCI core (registry/oci): names, digests, manifests."""
