"""The SOP engine: what is due, for whom, with which words and coupons. Pure."""
