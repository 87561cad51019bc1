"""What a network is: search spaces, the scaling rules, blocks and the builder."""
