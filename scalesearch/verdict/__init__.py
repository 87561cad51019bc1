"""From seeds to a decision: interval estimates, racing between candidates, and the verdict sentence."""
