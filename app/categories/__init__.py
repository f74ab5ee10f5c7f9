"""The category catalogue (GB/T 30428.2 style event and part classes) and what each category implies:
default severity, who is responsible, time limits in working time, and the process a case starts."""
