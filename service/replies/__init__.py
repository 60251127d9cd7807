"""What to offer: the reply corpus, its index, ranking, adoption priors, handling guidance and the draft check."""
