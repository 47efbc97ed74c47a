"""recloop: a discrete-event simulator of recommender-system feedback loops.

Installed, the repository's folders are subpackages of this one: ``recloop.sim`` (the
engine), ``recloop.agents`` (the hidden world), ``recloop.policies`` (recommenders),
``recloop.experiments`` (entry points and reports) and ``recloop.conf`` (Hydra configs).
"""

__version__ = "0.1.0"
