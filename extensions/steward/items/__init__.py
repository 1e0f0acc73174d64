"""Items: the structured things the user keeps (tasks, notes, ideas, events, people, projects).

`store` is the one writer (chat, the API and Todoist sync all go through it, so every change bumps
`version` and, unless it came from Todoist, reaches the sync outbox); `routes` is the operator's API.
"""
