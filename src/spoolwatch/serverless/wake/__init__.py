"""The wake function on the data queue's trigger, and the switch that arms the trigger.

* :mod:`~spoolwatch.serverless.wake.function`: what one invocation of the trigger does.
* :mod:`~spoolwatch.serverless.wake.batch`: the trigger's batch as a spool the agent reads.
* :mod:`~spoolwatch.serverless.wake.dynamodb`: the switch's wanted state in DynamoDB, applied
  to the trigger through Lambda's API.
* :mod:`~spoolwatch.serverless.wake.moves`: a session rule's move applied to the switch.

The switch's design and rules live in :mod:`spoolwatch.scaling.wake`.
"""
