"""Deployment: the local stack launcher, container image and manifests."""
