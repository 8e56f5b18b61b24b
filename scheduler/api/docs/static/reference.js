// Swagger UI over this server's own OpenAPI document; "Try it out" calls this same server.
window.addEventListener("load", function () {
  window.ui = SwaggerUIBundle({
    url: document.body.dataset.spec,
    dom_id: "#reference",
    deepLinking: true,
    validatorUrl: null,
    displayRequestDuration: true,
  });
});
