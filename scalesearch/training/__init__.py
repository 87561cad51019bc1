"""One proxy training: the loop, device-resident batches, presets, the objectives a trial runs."""
