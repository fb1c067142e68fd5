/*! OpenScouter recorder (placeholder; replaced by the real recorder) */
