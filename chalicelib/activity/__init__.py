"""The activity history: events the table's change stream turns into a history per task and a
feed per owner, and the one stream consumer that writes them."""
