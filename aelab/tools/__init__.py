"""The ``aelab`` command-line tools, kept apart from what notebooks import.

- :mod:`aelab.tools.build`: ``aelab build`` executes the course's notebooks and publishes them
  as a static HTML site with a build report.
- :mod:`aelab.tools.release`: ``aelab release`` generates the student labs in ``labs/`` from
  ``solutions/`` with nbgrader's preprocessors.
- :mod:`aelab.tools.cli`: the ``aelab`` command itself (``build``, ``release``, ``doctor``).

Nothing here is imported by ``import aelab``; notebooks never need nbclient, nbconvert or nbgrader.
"""
