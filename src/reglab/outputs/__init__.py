"""What a run leaves on disk and on screen: plots, metrics.json, the summary table."""
