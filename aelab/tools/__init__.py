"""The ``aelab`` command-line tools, kept apart from what notebooks import.

- :mod:`aelab.tools.build`: ``aelab build`` executes the course's notebooks and publishes them
  as a static HTML site with a build report.
- :mod:`aelab.tools.release`: ``aelab release`` generates the student labs in ``labs/`` from
  ``solutions/`` with nbgrader's preprocessors.
- :mod:`aelab.tools.seeds`: ``aelab seeds`` builds the course at several seeds and counts, per
  claim, the seeds it holds at.
- :mod:`aelab.tools.jupyter`: ``aelab jupyter --student | --instructor`` hides or shows nbgrader's
  instructor tools in JupyterLab; its contents manager keeps notebooks from opening "unsaved".
- :mod:`aelab.tools.feedback`: ``offline_feedback(c)`` in ``nbgrader_config.py`` makes nbgrader's
  feedback pages carry MathJax inside them (they work offline).
- :mod:`aelab.tools.cli`: the ``aelab`` command itself (``build``, ``check-site``, ``release``,
  ``seeds``, ``jupyter``, ``doctor``).

Nothing here is imported by ``import aelab``; notebooks never need nbclient, nbconvert or nbgrader.
"""

# The subcommands are modules, imported on use (`aelab.tools.build`, ...): the package itself defines nothing.
__all__: list[str] = []
