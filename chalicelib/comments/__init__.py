"""The comment resource: comments on a task, under ``/tasks/{task_id}/comments``."""
