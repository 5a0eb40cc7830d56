"""Services: apply the engine's decisions to the database, one unit of work each; they
enqueue jobs through the runtime's Work port and never import the jobs."""
