"""Controllers: the observe → plan → apply → status loop for one object of a kind,
with AWS and the clock at the edges. kopf handlers call these and stay thin."""
