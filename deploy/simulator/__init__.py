"""The campaign simulator: a plan of the Đắk Lắk campaign's 35 days (pure), and a runner that
plays it through the submission service's HTTP API, following the stack's clock."""
