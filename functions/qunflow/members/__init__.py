"""Members: events folded into members, activity, layers, tags and tag rules, the coupon pool and its
binding, the blacklist, referral and lotteries. Pure. May import `sheet/` and `sop/`."""
