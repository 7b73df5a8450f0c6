"""Lightning callbacks of pianodiff: demo sampling, export at the end of fit."""
