"""The notifier's pure rules: webhook signatures and the retry schedule of deliveries."""
