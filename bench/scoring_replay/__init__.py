"""The scoring replay benchmark's parts; bench/scoring.py runs them."""
