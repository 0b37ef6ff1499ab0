"""Active probing: send the suite to both arms, score the images, keep the statistics."""
