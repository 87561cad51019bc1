"""What a run leaves behind: the results table, the run folder, the winner's export."""
