"""What the benchmarks run and send, shared with the tests: the real processes started
from the Procfile, sample requests for each area, and valid CloudEvents."""
