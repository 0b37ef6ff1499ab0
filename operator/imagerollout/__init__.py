"""imagerollout: a Kubernetes operator that rolls out image-generation models safely."""

GROUP = "imagerollout.dev"
VERSION = "v1alpha1"
KIND = "ImageModelRollout"
PLURAL = "imagemodelrollouts"
