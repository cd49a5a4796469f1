"""One evaluation of the notifier over the whole country (bench/notifier.py's parts)."""
