"""Hydra configuration tree of recloop, shipped as package data so installed copies find it."""
