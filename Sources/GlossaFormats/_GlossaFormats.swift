// placeholder until GlossaFormats lands
