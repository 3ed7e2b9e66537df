"""Training the answer ranker (never imported at run time): synthetic questions, candidate collection, fitting."""
