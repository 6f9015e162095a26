"""Candidate parcels: loading a parcel layer, urban blocks from streets, shape measures."""
