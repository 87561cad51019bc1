"""What to try, without Ray: samplers, the budget judgement, the Optuna study."""
