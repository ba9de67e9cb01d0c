"""Converters users run on their own data, one folder per dataset in TFDS dataset-builder conventions.

Each ``<name>/<name>_dataset_builder.py`` defines ``features(...)`` (the flat feature spec, TFDS's
``_info``), ``split_generators(...)`` and ``generate_examples(...)`` (yielding ``(key, episode)``), and
``convert(...)`` which writes an RLDS dataset through :func:`data_pipelines.common.write_episodes`.
``jaxrobot data convert <name> --in DIR --out DIR`` runs them.
"""
