"""What every layer of servicekit uses: settings, problem+json, JSON logs, metrics, the
typed state built by the lifespan, and the small shared helpers. It imports neither
`servicekit.data` nor `servicekit.web`, only the verifier below it."""
