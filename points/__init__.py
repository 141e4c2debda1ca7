"""Carbon points: rules, earning, claims, expiry, catalogue, redemption and payouts."""
