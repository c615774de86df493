"""The models that drive runs: the provider interface, OpenAI-compatible servers, the offline demo,
scripted replies for tests, prices, and the settings each model call runs under."""
