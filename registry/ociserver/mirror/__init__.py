"""The pull-through mirror: fetch misses from the one configured upstream; refuse writes."""
