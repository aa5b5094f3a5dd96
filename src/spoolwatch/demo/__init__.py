"""The ``spoolwatch demo``: the example model, its simulated traffic, and the run itself.

``Demo(DemoOptions(...)).run()`` (:mod:`spoolwatch.demo.runner`) returns a
:class:`~spoolwatch.demo.runner.DemoSummary`; ``LocalService`` (:mod:`spoolwatch.demo.service`)
serves an app on a loopback port in a background thread.
"""
