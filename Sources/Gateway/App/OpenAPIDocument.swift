import Hummingbird

/// The gateway's API contract: an OpenAPI 3.1 document of every route it serves except Shopify's webhook, served at
/// `GET /openapi.json`. The route coverage test holds it to the router, the route tests hold the answers they get
/// to its schemas, and schemathesis fuzzes the running gateway from it (the test command).
///
/// `docs/openapi.json` is the one definition, edited as JSON; `scripts/openapi/write_document.py` writes it into the
/// literal below (the test suite and the script's `--check` fail when the two differ).
enum OpenAPIDocument {
    static func addRoute(to router: Router<some RequestContext>) {
        router.get("/openapi.json") { _, _ in
            Response(
                status: .ok,
                headers: [.contentType: "application/json", .cacheControl: "public, max-age=300"],
                body: ResponseBody(byteBuffer: ByteBuffer(string: Self.json))
            )
        }
    }

    // BEGIN DOCUMENT (written by scripts/openapi/write_document.py from docs/openapi.json, up to END DOCUMENT)
    static let json = ##"""
        {
          "openapi": "3.1.0",
          "info": {
            "title": "FlowPOS ecommerce gateway: admin, ops and health API",
            "version": "1.0.0",
            "description": "Every route the gateway serves except Shopify's webhook (`POST /ecommerce/webhooks/shopify`, whose contract is Shopify's). Errors share one body: `{\"error\": code, \"message\": text}`."
          },
          "servers": [
            {
              "url": "/"
            }
          ],
          "tags": [
            {
              "name": "connection"
            },
            {
              "name": "sync"
            },
            {
              "name": "ops"
            },
            {
              "name": "diagnostics"
            },
            {
              "name": "health"
            }
          ],
          "paths": {
            "/ecommerce/oauth/install": {
              "get": {
                "operationId": "startInstall",
                "summary": "Start connecting a shop: the URL to send the merchant to",
                "tags": [
                  "connection"
                ],
                "responses": {
                  "200": {
                    "description": "OK",
                    "content": {
                      "application/json": {
                        "schema": {
                          "$ref": "#/components/schemas/Install"
                        }
                      }
                    }
                  },
                  "400": {
                    "$ref": "#/components/responses/BadRequest"
                  },
                  "401": {
                    "$ref": "#/components/responses/Unauthorized"
                  },
                  "403": {
                    "$ref": "#/components/responses/Forbidden"
                  },
                  "503": {
                    "$ref": "#/components/responses/Unavailable"
                  }
                },
                "description": "Answers 503 `oauth_not_configured` when the gateway runs without the OAuth settings.",
                "parameters": [
                  {
                    "name": "businessId",
                    "in": "query",
                    "required": false,
                    "description": "The business (a UUID). Required with an ops token; with a merchant token it may be left out, or must be the token's own business.",
                    "schema": {
                      "type": "string",
                      "format": "uuid"
                    }
                  },
                  {
                    "name": "shop",
                    "in": "query",
                    "required": true,
                    "description": "The shop's *.myshopify.com domain (letters, digits and hyphens before .myshopify.com; read lower-cased).",
                    "schema": {
                      "type": "string",
                      "maxLength": 255,
                      "pattern": "^[a-zA-Z0-9][a-zA-Z0-9-]*\\.[mM][yY][sS][hH][oO][pP][iI][fF][yY]\\.[cC][oO][mM]$"
                    }
                  }
                ],
                "security": [
                  {
                    "bearerJWT": []
                  }
                ]
              }
            },
            "/ecommerce/oauth/callback": {
              "get": {
                "operationId": "oauthCallback",
                "summary": "Shopify's redirect after the merchant approved: verified, the code exchanged, the shop connected",
                "tags": [
                  "connection"
                ],
                "responses": {
                  "302": {
                    "description": "Connected: a redirect to APP_REDIRECT_URL",
                    "headers": {
                      "Location": {
                        "schema": {
                          "type": "string"
                        }
                      }
                    }
                  },
                  "400": {
                    "$ref": "#/components/responses/BadRequest"
                  },
                  "409": {
                    "$ref": "#/components/responses/Conflict"
                  },
                  "502": {
                    "$ref": "#/components/responses/BadGateway"
                  },
                  "503": {
                    "$ref": "#/components/responses/Unavailable"
                  }
                },
                "description": "Refusals (400 `missing_parameters`, `invalid_hmac`, `invalid_shop`, `stale_request`, `invalid_state`, `scopes_not_granted`; 409 `shop_connected_elsewhere`; 502 `token_exchange_failed`) are kept for the doctor.",
                "parameters": [
                  {
                    "name": "code",
                    "in": "query",
                    "required": true,
                    "description": "The authorization code.",
                    "schema": {
                      "type": "string"
                    }
                  },
                  {
                    "name": "hmac",
                    "in": "query",
                    "required": true,
                    "description": "Shopify's signature of the query: HMAC-SHA256 of the other parameters, in hex.",
                    "schema": {
                      "type": "string",
                      "pattern": "^[0-9a-fA-F]{64}$"
                    }
                  },
                  {
                    "name": "shop",
                    "in": "query",
                    "required": true,
                    "description": "The shop's domain.",
                    "schema": {
                      "type": "string",
                      "maxLength": 255,
                      "pattern": "^[a-zA-Z0-9][a-zA-Z0-9-]*\\.[mM][yY][sS][hH][oO][pP][iI][fF][yY]\\.[cC][oO][mM]$"
                    }
                  },
                  {
                    "name": "state",
                    "in": "query",
                    "required": true,
                    "description": "The state the install issued.",
                    "schema": {
                      "type": "string"
                    }
                  },
                  {
                    "name": "timestamp",
                    "in": "query",
                    "required": true,
                    "description": "Seconds since the epoch.",
                    "schema": {
                      "type": "string",
                      "pattern": "^[0-9]{1,12}$"
                    }
                  },
                  {
                    "name": "host",
                    "in": "query",
                    "required": false,
                    "description": "Shopify's host parameter.",
                    "schema": {
                      "type": "string"
                    }
                  }
                ],
                "security": []
              }
            },
            "/ecommerce/connection": {
              "get": {
                "operationId": "getConnection",
                "summary": "The business's Shopify connection (never its tokens)",
                "tags": [
                  "connection"
                ],
                "responses": {
                  "200": {
                    "description": "OK",
                    "content": {
                      "application/json": {
                        "schema": {
                          "$ref": "#/components/schemas/Connection"
                        }
                      }
                    }
                  },
                  "400": {
                    "$ref": "#/components/responses/BadRequest"
                  },
                  "401": {
                    "$ref": "#/components/responses/Unauthorized"
                  },
                  "403": {
                    "$ref": "#/components/responses/Forbidden"
                  },
                  "404": {
                    "$ref": "#/components/responses/NotFound"
                  },
                  "503": {
                    "$ref": "#/components/responses/Unavailable"
                  }
                },
                "parameters": [
                  {
                    "name": "businessId",
                    "in": "query",
                    "required": false,
                    "description": "The business (a UUID). Required with an ops token; with a merchant token it may be left out, or must be the token's own business.",
                    "schema": {
                      "type": "string",
                      "format": "uuid"
                    }
                  }
                ],
                "security": [
                  {
                    "bearerJWT": []
                  }
                ]
              },
              "delete": {
                "operationId": "disconnect",
                "summary": "Disconnect: polling stops, tokens are wiped, history stays",
                "tags": [
                  "connection"
                ],
                "responses": {
                  "204": {
                    "description": "Disconnected"
                  },
                  "400": {
                    "$ref": "#/components/responses/BadRequest"
                  },
                  "401": {
                    "$ref": "#/components/responses/Unauthorized"
                  },
                  "403": {
                    "$ref": "#/components/responses/Forbidden"
                  },
                  "404": {
                    "$ref": "#/components/responses/NotFound"
                  },
                  "503": {
                    "$ref": "#/components/responses/Unavailable"
                  }
                },
                "parameters": [
                  {
                    "name": "businessId",
                    "in": "query",
                    "required": false,
                    "description": "The business (a UUID). Required with an ops token; with a merchant token it may be left out, or must be the token's own business.",
                    "schema": {
                      "type": "string",
                      "format": "uuid"
                    }
                  }
                ],
                "security": [
                  {
                    "bearerJWT": []
                  }
                ]
              }
            },
            "/ecommerce/sync/products": {
              "post": {
                "operationId": "pushProducts",
                "summary": "Push the catalog to Shopify",
                "tags": [
                  "sync"
                ],
                "responses": {
                  "202": {
                    "description": "Started",
                    "content": {
                      "application/json": {
                        "schema": {
                          "$ref": "#/components/schemas/Started"
                        }
                      }
                    }
                  },
                  "400": {
                    "$ref": "#/components/responses/BadRequest"
                  },
                  "401": {
                    "$ref": "#/components/responses/Unauthorized"
                  },
                  "403": {
                    "$ref": "#/components/responses/Forbidden"
                  },
                  "409": {
                    "$ref": "#/components/responses/Conflict"
                  },
                  "503": {
                    "$ref": "#/components/responses/Unavailable"
                  }
                },
                "parameters": [
                  {
                    "name": "businessId",
                    "in": "query",
                    "required": false,
                    "description": "The business (a UUID). Required with an ops token; with a merchant token it may be left out, or must be the token's own business.",
                    "schema": {
                      "type": "string",
                      "format": "uuid"
                    }
                  }
                ],
                "security": [
                  {
                    "bearerJWT": []
                  }
                ]
              }
            },
            "/ecommerce/sync/collections": {
              "post": {
                "operationId": "pushCollections",
                "summary": "Push the categories to Shopify as collections",
                "tags": [
                  "sync"
                ],
                "responses": {
                  "202": {
                    "description": "Started",
                    "content": {
                      "application/json": {
                        "schema": {
                          "$ref": "#/components/schemas/Started"
                        }
                      }
                    }
                  },
                  "400": {
                    "$ref": "#/components/responses/BadRequest"
                  },
                  "401": {
                    "$ref": "#/components/responses/Unauthorized"
                  },
                  "403": {
                    "$ref": "#/components/responses/Forbidden"
                  },
                  "409": {
                    "$ref": "#/components/responses/Conflict"
                  },
                  "503": {
                    "$ref": "#/components/responses/Unavailable"
                  }
                },
                "parameters": [
                  {
                    "name": "businessId",
                    "in": "query",
                    "required": false,
                    "description": "The business (a UUID). Required with an ops token; with a merchant token it may be left out, or must be the token's own business.",
                    "schema": {
                      "type": "string",
                      "format": "uuid"
                    }
                  }
                ],
                "security": [
                  {
                    "bearerJWT": []
                  }
                ]
              }
            },
            "/ecommerce/sync/inventory": {
              "post": {
                "operationId": "reconcileInventory",
                "summary": "Reconcile Shopify's stock with FlowPOS's",
                "tags": [
                  "sync"
                ],
                "responses": {
                  "202": {
                    "description": "Started",
                    "content": {
                      "application/json": {
                        "schema": {
                          "$ref": "#/components/schemas/Started"
                        }
                      }
                    }
                  },
                  "400": {
                    "$ref": "#/components/responses/BadRequest"
                  },
                  "401": {
                    "$ref": "#/components/responses/Unauthorized"
                  },
                  "403": {
                    "$ref": "#/components/responses/Forbidden"
                  },
                  "409": {
                    "$ref": "#/components/responses/Conflict"
                  },
                  "503": {
                    "$ref": "#/components/responses/Unavailable"
                  }
                },
                "parameters": [
                  {
                    "name": "businessId",
                    "in": "query",
                    "required": false,
                    "description": "The business (a UUID). Required with an ops token; with a merchant token it may be left out, or must be the token's own business.",
                    "schema": {
                      "type": "string",
                      "format": "uuid"
                    }
                  }
                ],
                "security": [
                  {
                    "bearerJWT": []
                  }
                ]
              }
            },
            "/ecommerce/sync/poll": {
              "post": {
                "operationId": "requestPoll",
                "summary": "Poll the shop's orders now (one pending at a time)",
                "tags": [
                  "sync"
                ],
                "responses": {
                  "202": {
                    "description": "Queued",
                    "content": {
                      "application/json": {
                        "schema": {
                          "type": "object",
                          "required": [
                            "status"
                          ],
                          "properties": {
                            "status": {
                              "const": "queued"
                            }
                          }
                        }
                      }
                    }
                  },
                  "400": {
                    "$ref": "#/components/responses/BadRequest"
                  },
                  "401": {
                    "$ref": "#/components/responses/Unauthorized"
                  },
                  "403": {
                    "$ref": "#/components/responses/Forbidden"
                  },
                  "409": {
                    "$ref": "#/components/responses/Conflict"
                  },
                  "503": {
                    "$ref": "#/components/responses/Unavailable"
                  }
                },
                "parameters": [
                  {
                    "name": "businessId",
                    "in": "query",
                    "required": false,
                    "description": "The business (a UUID). Required with an ops token; with a merchant token it may be left out, or must be the token's own business.",
                    "schema": {
                      "type": "string",
                      "format": "uuid"
                    }
                  }
                ],
                "security": [
                  {
                    "bearerJWT": []
                  }
                ]
              }
            },
            "/ecommerce/sync/logs": {
              "get": {
                "operationId": "listSyncLogs",
                "summary": "The business's recent runs (pushes, polls, reconciliations)",
                "tags": [
                  "sync"
                ],
                "responses": {
                  "200": {
                    "description": "OK",
                    "content": {
                      "application/json": {
                        "schema": {
                          "type": "object",
                          "required": [
                            "logs"
                          ],
                          "properties": {
                            "logs": {
                              "type": "array",
                              "items": {
                                "$ref": "#/components/schemas/SyncRun"
                              }
                            }
                          }
                        }
                      }
                    }
                  },
                  "400": {
                    "$ref": "#/components/responses/BadRequest"
                  },
                  "401": {
                    "$ref": "#/components/responses/Unauthorized"
                  },
                  "403": {
                    "$ref": "#/components/responses/Forbidden"
                  },
                  "503": {
                    "$ref": "#/components/responses/Unavailable"
                  }
                },
                "parameters": [
                  {
                    "name": "businessId",
                    "in": "query",
                    "required": false,
                    "description": "The business (a UUID). Required with an ops token; with a merchant token it may be left out, or must be the token's own business.",
                    "schema": {
                      "type": "string",
                      "format": "uuid"
                    }
                  },
                  {
                    "name": "kind",
                    "in": "query",
                    "required": false,
                    "description": "Only rows of this kind; another is a 400 (`invalid_kind`).",
                    "schema": {
                      "type": "string",
                      "enum": [
                        "product_push",
                        "collection_push",
                        "inventory_reconcile",
                        "poll",
                        "order_ingest",
                        "order_change"
                      ]
                    }
                  },
                  {
                    "name": "limit",
                    "in": "query",
                    "required": false,
                    "description": "At most this many (1–500, 20 by default); anything else is a 400 (`invalid_limit`).",
                    "schema": {
                      "type": "integer",
                      "minimum": 1,
                      "maximum": 500
                    }
                  }
                ],
                "security": [
                  {
                    "bearerJWT": []
                  }
                ]
              }
            },
            "/ecommerce/sync/logs/{id}": {
              "get": {
                "operationId": "getSyncLog",
                "summary": "One run: counters, progress, failure reasons",
                "tags": [
                  "sync"
                ],
                "responses": {
                  "200": {
                    "description": "OK",
                    "content": {
                      "application/json": {
                        "schema": {
                          "$ref": "#/components/schemas/SyncRun"
                        }
                      }
                    }
                  },
                  "401": {
                    "$ref": "#/components/responses/Unauthorized"
                  },
                  "404": {
                    "$ref": "#/components/responses/NotFound"
                  },
                  "503": {
                    "$ref": "#/components/responses/Unavailable"
                  }
                },
                "parameters": [
                  {
                    "name": "id",
                    "in": "path",
                    "required": true,
                    "description": "The sync log's id.",
                    "schema": {
                      "type": "string",
                      "format": "uuid"
                    }
                  }
                ],
                "security": [
                  {
                    "bearerJWT": []
                  }
                ]
              }
            },
            "/ops": {
              "get": {
                "operationId": "dashboard",
                "summary": "The ops dashboard's page (holds no data)",
                "tags": [
                  "ops"
                ],
                "responses": {
                  "200": {
                    "description": "The page",
                    "content": {
                      "text/html": {
                        "schema": {
                          "type": "string"
                        }
                      }
                    }
                  }
                },
                "security": []
              }
            },
            "/ops/dashboard.js": {
              "get": {
                "operationId": "dashboardScript",
                "summary": "The dashboard's script",
                "tags": [
                  "ops"
                ],
                "responses": {
                  "200": {
                    "description": "The script",
                    "content": {
                      "text/javascript": {
                        "schema": {
                          "type": "string"
                        }
                      }
                    }
                  }
                },
                "security": []
              }
            },
            "/ops/dashboard.css": {
              "get": {
                "operationId": "dashboardStyle",
                "summary": "The dashboard's style sheet",
                "tags": [
                  "ops"
                ],
                "responses": {
                  "200": {
                    "description": "The style sheet",
                    "content": {
                      "text/css": {
                        "schema": {
                          "type": "string"
                        }
                      }
                    }
                  }
                },
                "security": []
              }
            },
            "/ops/api/overview": {
              "get": {
                "operationId": "opsOverview",
                "summary": "Workers, queues, connections, runs, dead letters and the schedule (ops token)",
                "tags": [
                  "ops"
                ],
                "responses": {
                  "200": {
                    "description": "OK",
                    "content": {
                      "application/json": {
                        "schema": {
                          "$ref": "#/components/schemas/Overview"
                        }
                      }
                    }
                  },
                  "401": {
                    "$ref": "#/components/responses/Unauthorized"
                  },
                  "403": {
                    "$ref": "#/components/responses/Forbidden"
                  },
                  "503": {
                    "$ref": "#/components/responses/Unavailable"
                  }
                },
                "security": [
                  {
                    "bearerJWT": []
                  }
                ]
              }
            },
            "/ops/api/activity": {
              "get": {
                "operationId": "opsActivity",
                "summary": "The charts' per-minute counts of the last minutes (ops token)",
                "tags": [
                  "ops"
                ],
                "responses": {
                  "200": {
                    "description": "OK",
                    "content": {
                      "application/json": {
                        "schema": {
                          "$ref": "#/components/schemas/Activity"
                        }
                      }
                    }
                  },
                  "400": {
                    "$ref": "#/components/responses/BadRequest"
                  },
                  "401": {
                    "$ref": "#/components/responses/Unauthorized"
                  },
                  "403": {
                    "$ref": "#/components/responses/Forbidden"
                  },
                  "503": {
                    "$ref": "#/components/responses/Unavailable"
                  }
                },
                "parameters": [
                  {
                    "name": "minutes",
                    "in": "query",
                    "required": false,
                    "description": "How many minutes, up to now (1–120, 60 by default).",
                    "schema": {
                      "type": "integer",
                      "minimum": 1,
                      "maximum": 120
                    }
                  }
                ],
                "security": [
                  {
                    "bearerJWT": []
                  }
                ]
              }
            },
            "/ops/api/dead-letters/{queue}": {
              "get": {
                "operationId": "listDeadLetters",
                "summary": "A page of a queue's dead letters (ops token)",
                "tags": [
                  "ops"
                ],
                "responses": {
                  "200": {
                    "description": "OK",
                    "content": {
                      "application/json": {
                        "schema": {
                          "$ref": "#/components/schemas/DeadLetterPage"
                        }
                      }
                    }
                  },
                  "400": {
                    "$ref": "#/components/responses/BadRequest"
                  },
                  "401": {
                    "$ref": "#/components/responses/Unauthorized"
                  },
                  "403": {
                    "$ref": "#/components/responses/Forbidden"
                  },
                  "404": {
                    "$ref": "#/components/responses/NotFound"
                  },
                  "503": {
                    "$ref": "#/components/responses/Unavailable"
                  }
                },
                "parameters": [
                  {
                    "name": "queue",
                    "in": "path",
                    "required": true,
                    "description": "The queue.",
                    "schema": {
                      "type": "string",
                      "enum": [
                        "ecommerce-orders",
                        "ecommerce-polling",
                        "ecommerce-products",
                        "ecommerce-collections",
                        "ecommerce-inventory",
                        "ecommerce-shop-events"
                      ]
                    }
                  },
                  {
                    "name": "cursor",
                    "in": "query",
                    "required": false,
                    "description": "The `next` of the previous page (0 for the first).",
                    "schema": {
                      "type": "string",
                      "pattern": "^[0-9]+$"
                    }
                  },
                  {
                    "name": "limit",
                    "in": "query",
                    "required": false,
                    "description": "About this many (1–500, 50 by default).",
                    "schema": {
                      "type": "integer",
                      "minimum": 1,
                      "maximum": 500
                    }
                  }
                ],
                "security": [
                  {
                    "bearerJWT": []
                  }
                ]
              }
            },
            "/ops/api/dead-letters/{queue}/{id}/retry": {
              "post": {
                "operationId": "retryDeadLetter",
                "summary": "Put a dead letter back on its queue with a fresh attempt budget (ops token)",
                "tags": [
                  "ops"
                ],
                "responses": {
                  "200": {
                    "description": "OK",
                    "content": {
                      "application/json": {
                        "schema": {
                          "type": "object",
                          "required": [
                            "retried"
                          ],
                          "properties": {
                            "retried": {
                              "type": "string"
                            }
                          }
                        }
                      }
                    }
                  },
                  "401": {
                    "$ref": "#/components/responses/Unauthorized"
                  },
                  "403": {
                    "$ref": "#/components/responses/Forbidden"
                  },
                  "404": {
                    "$ref": "#/components/responses/NotFound"
                  },
                  "503": {
                    "$ref": "#/components/responses/Unavailable"
                  }
                },
                "parameters": [
                  {
                    "name": "queue",
                    "in": "path",
                    "required": true,
                    "description": "The queue.",
                    "schema": {
                      "type": "string",
                      "enum": [
                        "ecommerce-orders",
                        "ecommerce-polling",
                        "ecommerce-products",
                        "ecommerce-collections",
                        "ecommerce-inventory",
                        "ecommerce-shop-events"
                      ]
                    }
                  },
                  {
                    "name": "id",
                    "in": "path",
                    "required": true,
                    "description": "The job's id.",
                    "schema": {
                      "type": "string"
                    }
                  }
                ],
                "security": [
                  {
                    "bearerJWT": []
                  }
                ]
              }
            },
            "/ops/api/businesses/{id}/doctor": {
              "get": {
                "operationId": "doctor",
                "summary": "The troubleshooting checklist of one business (ops token, or the merchant's own)",
                "tags": [
                  "diagnostics"
                ],
                "responses": {
                  "200": {
                    "description": "OK",
                    "content": {
                      "application/json": {
                        "schema": {
                          "$ref": "#/components/schemas/DoctorReport"
                        }
                      }
                    }
                  },
                  "400": {
                    "$ref": "#/components/responses/BadRequest"
                  },
                  "401": {
                    "$ref": "#/components/responses/Unauthorized"
                  },
                  "403": {
                    "$ref": "#/components/responses/Forbidden"
                  },
                  "429": {
                    "$ref": "#/components/responses/TooManyRequests"
                  },
                  "503": {
                    "$ref": "#/components/responses/Unavailable"
                  }
                },
                "parameters": [
                  {
                    "name": "id",
                    "in": "path",
                    "required": true,
                    "description": "The business.",
                    "schema": {
                      "type": "string",
                      "format": "uuid"
                    }
                  }
                ],
                "security": [
                  {
                    "bearerJWT": []
                  }
                ]
              }
            },
            "/ops/api/businesses/{id}/doctor/fix": {
              "post": {
                "operationId": "doctorFix",
                "summary": "The checklist, re-creating missing webhook subscriptions (ops token)",
                "tags": [
                  "diagnostics"
                ],
                "responses": {
                  "200": {
                    "description": "OK",
                    "content": {
                      "application/json": {
                        "schema": {
                          "$ref": "#/components/schemas/DoctorReport"
                        }
                      }
                    }
                  },
                  "400": {
                    "$ref": "#/components/responses/BadRequest"
                  },
                  "401": {
                    "$ref": "#/components/responses/Unauthorized"
                  },
                  "403": {
                    "$ref": "#/components/responses/Forbidden"
                  },
                  "429": {
                    "$ref": "#/components/responses/TooManyRequests"
                  },
                  "503": {
                    "$ref": "#/components/responses/Unavailable"
                  }
                },
                "parameters": [
                  {
                    "name": "id",
                    "in": "path",
                    "required": true,
                    "description": "The business.",
                    "schema": {
                      "type": "string",
                      "format": "uuid"
                    }
                  }
                ],
                "security": [
                  {
                    "bearerJWT": []
                  }
                ]
              }
            },
            "/ops/api/businesses/{id}/orders/{order}/trace": {
              "get": {
                "operationId": "orderTrace",
                "summary": "Every step of one order (ops token, or the merchant's own)",
                "tags": [
                  "diagnostics"
                ],
                "responses": {
                  "200": {
                    "description": "OK",
                    "content": {
                      "application/json": {
                        "schema": {
                          "$ref": "#/components/schemas/OrderTrace"
                        }
                      }
                    }
                  },
                  "400": {
                    "$ref": "#/components/responses/BadRequest"
                  },
                  "401": {
                    "$ref": "#/components/responses/Unauthorized"
                  },
                  "403": {
                    "$ref": "#/components/responses/Forbidden"
                  },
                  "503": {
                    "$ref": "#/components/responses/Unavailable"
                  }
                },
                "parameters": [
                  {
                    "name": "id",
                    "in": "path",
                    "required": true,
                    "description": "The business.",
                    "schema": {
                      "type": "string",
                      "format": "uuid"
                    }
                  },
                  {
                    "name": "order",
                    "in": "path",
                    "required": true,
                    "description": "Shopify's order id.",
                    "schema": {
                      "type": "integer",
                      "format": "int64",
                      "minimum": 1
                    }
                  }
                ],
                "security": [
                  {
                    "bearerJWT": []
                  }
                ]
              }
            },
            "/healthz": {
              "get": {
                "operationId": "health",
                "summary": "The process answers",
                "tags": [
                  "health"
                ],
                "responses": {
                  "200": {
                    "description": "OK",
                    "content": {
                      "application/json": {
                        "schema": {
                          "type": "object",
                          "required": [
                            "status"
                          ],
                          "properties": {
                            "status": {
                              "const": "ok"
                            }
                          }
                        }
                      }
                    }
                  }
                },
                "security": []
              }
            },
            "/readyz": {
              "get": {
                "operationId": "readiness",
                "summary": "Redis and PostgreSQL answer",
                "tags": [
                  "health"
                ],
                "responses": {
                  "200": {
                    "description": "Ready",
                    "content": {
                      "application/json": {
                        "schema": {
                          "$ref": "#/components/schemas/Readiness"
                        }
                      }
                    }
                  },
                  "503": {
                    "description": "Not ready",
                    "content": {
                      "application/json": {
                        "schema": {
                          "$ref": "#/components/schemas/Readiness"
                        }
                      }
                    }
                  }
                },
                "security": []
              }
            },
            "/metrics": {
              "get": {
                "operationId": "metrics",
                "summary": "Prometheus metrics (here, or only on GATEWAY_METRICS_PORT when that is set)",
                "tags": [
                  "health"
                ],
                "responses": {
                  "200": {
                    "description": "Prometheus text format",
                    "content": {
                      "text/plain": {
                        "schema": {
                          "type": "string"
                        }
                      }
                    }
                  },
                  "404": {
                    "description": "Not on this port: with GATEWAY_METRICS_PORT set, /metrics is served only on that port (not exposed to the internet)"
                  }
                },
                "security": []
              }
            },
            "/openapi.json": {
              "get": {
                "operationId": "openapi",
                "summary": "This document",
                "tags": [
                  "health"
                ],
                "responses": {
                  "200": {
                    "description": "The OpenAPI document",
                    "content": {
                      "application/json": {
                        "schema": {
                          "type": "object"
                        }
                      }
                    }
                  }
                },
                "security": []
              }
            }
          },
          "components": {
            "securitySchemes": {
              "bearerJWT": {
                "type": "http",
                "scheme": "bearer",
                "bearerFormat": "JWT",
                "description": "HS256, with `exp`; `role: \"ops\"` for an operator, or `businessId` for a merchant (FlowPOS's token)."
              }
            },
            "responses": {
              "BadRequest": {
                "description": "A malformed parameter (`invalid_business_id`, `missing_business_id`, `invalid_shop`, `invalid_limit`, `invalid_page`, `invalid_minutes`, `invalid_order_id`, …)",
                "content": {
                  "application/json": {
                    "schema": {
                      "$ref": "#/components/schemas/Error"
                    }
                  }
                }
              },
              "Unauthorized": {
                "description": "No token, or one that is malformed, forged or expired (`missing_token`, `malformed_token`, `invalid_token`)",
                "content": {
                  "application/json": {
                    "schema": {
                      "$ref": "#/components/schemas/Error"
                    }
                  }
                }
              },
              "Forbidden": {
                "description": "A token that may not act on this business or this route (`forbidden`)",
                "content": {
                  "application/json": {
                    "schema": {
                      "$ref": "#/components/schemas/Error"
                    }
                  }
                }
              },
              "NotFound": {
                "description": "No such thing, or not this token's (`not_found`, `not_connected`)",
                "content": {
                  "application/json": {
                    "schema": {
                      "$ref": "#/components/schemas/Error"
                    }
                  }
                }
              },
              "Conflict": {
                "description": "Not in a state for this (`not_connected`, `poll_pending`, `shop_connected_elsewhere`)",
                "content": {
                  "application/json": {
                    "schema": {
                      "$ref": "#/components/schemas/Error"
                    }
                  }
                }
              },
              "TooLarge": {
                "description": "The request is too large",
                "content": {
                  "application/json": {
                    "schema": {
                      "$ref": "#/components/schemas/Error"
                    }
                  }
                }
              },
              "TooManyRequests": {
                "description": "Too many requests: `doctor_busy` when the business's doctor ran less than DOCTOR_MIN_INTERVAL_SECONDS (5) ago; Retry-After says when it may run again",
                "content": {
                  "application/json": {
                    "schema": {
                      "$ref": "#/components/schemas/Error"
                    }
                  }
                },
                "headers": {
                  "Retry-After": {
                    "schema": {
                      "type": "integer"
                    },
                    "description": "Seconds to wait."
                  }
                }
              },
              "BadGateway": {
                "description": "Shopify did not answer as it should (`token_exchange_failed`)",
                "content": {
                  "application/json": {
                    "schema": {
                      "$ref": "#/components/schemas/Error"
                    }
                  }
                }
              },
              "Unavailable": {
                "description": "Redis or PostgreSQL did not answer; try again (`queue_unavailable`, `database_unavailable`, `oauth_not_configured`)",
                "content": {
                  "application/json": {
                    "schema": {
                      "$ref": "#/components/schemas/Error"
                    }
                  }
                },
                "headers": {
                  "Retry-After": {
                    "schema": {
                      "type": "integer"
                    },
                    "description": "Seconds to wait."
                  }
                }
              }
            },
            "schemas": {
              "Error": {
                "type": "object",
                "required": [
                  "error",
                  "message"
                ],
                "properties": {
                  "error": {
                    "type": "string",
                    "description": "A stable code, e.g. `missing_token`, `forbidden`, `not_connected`."
                  },
                  "message": {
                    "type": "string"
                  }
                }
              },
              "Install": {
                "type": "object",
                "required": [
                  "authorizeUrl",
                  "expiresInSeconds"
                ],
                "properties": {
                  "authorizeUrl": {
                    "type": "string",
                    "format": "uri"
                  },
                  "expiresInSeconds": {
                    "type": "integer"
                  }
                }
              },
              "Connection": {
                "type": "object",
                "required": [
                  "businessId",
                  "shop",
                  "status",
                  "scopes",
                  "connectedAt",
                  "updatedAt"
                ],
                "properties": {
                  "businessId": {
                    "type": "string",
                    "format": "uuid"
                  },
                  "shop": {
                    "type": "string"
                  },
                  "status": {
                    "type": "string",
                    "enum": [
                      "active",
                      "uninstalled",
                      "disconnected"
                    ]
                  },
                  "scopes": {
                    "type": "array",
                    "items": {
                      "type": "string"
                    }
                  },
                  "locationId": {
                    "type": [
                      "integer",
                      "null"
                    ]
                  },
                  "lastSyncedAt": {
                    "type": [
                      "string",
                      "null"
                    ],
                    "format": "date-time"
                  },
                  "tokenExpiresAt": {
                    "type": [
                      "string",
                      "null"
                    ],
                    "format": "date-time"
                  },
                  "connectedAt": {
                    "type": "string",
                    "format": "date-time"
                  },
                  "updatedAt": {
                    "type": "string",
                    "format": "date-time"
                  },
                  "nextPollAt": {
                    "type": [
                      "string",
                      "null"
                    ],
                    "format": "date-time"
                  }
                }
              },
              "Started": {
                "type": "object",
                "required": [
                  "syncLogId",
                  "status"
                ],
                "properties": {
                  "syncLogId": {
                    "type": "string",
                    "format": "uuid"
                  },
                  "status": {
                    "const": "running"
                  }
                }
              },
              "SyncError": {
                "type": "object",
                "required": [
                  "code",
                  "message"
                ],
                "properties": {
                  "code": {
                    "type": "string"
                  },
                  "message": {
                    "type": "string"
                  },
                  "subject": {
                    "type": [
                      "string",
                      "null"
                    ]
                  }
                }
              },
              "SyncRun": {
                "type": "object",
                "required": [
                  "id",
                  "businessId",
                  "kind",
                  "status",
                  "processed",
                  "failed",
                  "pagesDone",
                  "errors",
                  "details",
                  "startedAt"
                ],
                "properties": {
                  "id": {
                    "type": "string",
                    "format": "uuid"
                  },
                  "businessId": {
                    "type": "string",
                    "format": "uuid"
                  },
                  "kind": {
                    "type": "string",
                    "enum": [
                      "product_push",
                      "collection_push",
                      "inventory_reconcile",
                      "poll",
                      "order_ingest",
                      "order_change"
                    ]
                  },
                  "status": {
                    "type": "string",
                    "enum": [
                      "running",
                      "completed",
                      "partial",
                      "failed",
                      "deferred",
                      "skipped",
                      "noted"
                    ],
                    "description": "running until it ends; partial when some items failed; deferred when a push waits for Shopify (throttled, retried later); skipped for a stale order delivery that changed nothing; noted for an order change that needs no work"
                  },
                  "processed": {
                    "type": "integer"
                  },
                  "failed": {
                    "type": "integer"
                  },
                  "total": {
                    "type": [
                      "integer",
                      "null"
                    ]
                  },
                  "pagesTotal": {
                    "type": [
                      "integer",
                      "null"
                    ]
                  },
                  "pagesDone": {
                    "type": "integer"
                  },
                  "errors": {
                    "type": "array",
                    "items": {
                      "$ref": "#/components/schemas/SyncError"
                    }
                  },
                  "details": {
                    "type": "object"
                  },
                  "startedAt": {
                    "type": "string",
                    "format": "date-time"
                  },
                  "finishedAt": {
                    "type": [
                      "string",
                      "null"
                    ],
                    "format": "date-time"
                  }
                }
              },
              "Overview": {
                "type": "object",
                "required": [
                  "generatedAt",
                  "workers",
                  "queues",
                  "connections",
                  "syncRuns",
                  "deadLetters",
                  "schedule"
                ],
                "properties": {
                  "generatedAt": {
                    "type": "string",
                    "format": "date-time"
                  },
                  "workers": {
                    "type": "array",
                    "items": {
                      "type": "object"
                    }
                  },
                  "queues": {
                    "type": "array",
                    "items": {
                      "type": "object",
                      "required": [
                        "queue",
                        "ready",
                        "inflight",
                        "delayed",
                        "dead"
                      ]
                    }
                  },
                  "connections": {
                    "type": "array",
                    "items": {
                      "type": "object"
                    }
                  },
                  "syncRuns": {
                    "type": "array",
                    "items": {
                      "$ref": "#/components/schemas/SyncRun"
                    }
                  },
                  "deadLetters": {
                    "type": "array",
                    "items": {
                      "type": "object"
                    }
                  },
                  "schedule": {
                    "type": "object"
                  }
                }
              },
              "Activity": {
                "type": "object",
                "required": [
                  "minutes",
                  "webhooks",
                  "jobs",
                  "ingestLag"
                ],
                "properties": {
                  "minutes": {
                    "type": "array",
                    "items": {
                      "type": "integer"
                    },
                    "description": "Each minute's start, seconds since the epoch, oldest first."
                  },
                  "webhooks": {
                    "type": "array",
                    "items": {
                      "type": "object",
                      "required": [
                        "name",
                        "counts"
                      ],
                      "properties": {
                        "name": {
                          "type": "string"
                        },
                        "counts": {
                          "type": "array",
                          "items": {
                            "type": "integer"
                          }
                        }
                      }
                    }
                  },
                  "jobs": {
                    "type": "array",
                    "items": {
                      "type": "object",
                      "required": [
                        "queue",
                        "completed",
                        "failed",
                        "dead"
                      ],
                      "properties": {
                        "queue": {
                          "type": "string"
                        },
                        "completed": {
                          "type": "array",
                          "items": {
                            "type": "integer"
                          }
                        },
                        "failed": {
                          "type": "array",
                          "items": {
                            "type": "integer"
                          }
                        },
                        "dead": {
                          "type": "array",
                          "items": {
                            "type": "integer"
                          }
                        }
                      }
                    }
                  },
                  "ingestLag": {
                    "type": "object",
                    "required": [
                      "count",
                      "p50",
                      "p99"
                    ],
                    "properties": {
                      "count": {
                        "type": "array",
                        "items": {
                          "type": "integer"
                        }
                      },
                      "p50": {
                        "type": "array",
                        "items": {
                          "type": [
                            "number",
                            "null"
                          ]
                        }
                      },
                      "p99": {
                        "type": "array",
                        "items": {
                          "type": [
                            "number",
                            "null"
                          ]
                        }
                      }
                    }
                  }
                }
              },
              "DeadLetterPage": {
                "type": "object",
                "required": [
                  "letters"
                ],
                "properties": {
                  "letters": {
                    "type": "array",
                    "items": {
                      "type": "object",
                      "required": [
                        "id",
                        "queue"
                      ]
                    }
                  },
                  "next": {
                    "type": [
                      "string",
                      "null"
                    ]
                  }
                }
              },
              "DoctorReport": {
                "type": "object",
                "required": [
                  "businessId",
                  "generatedAt",
                  "verdict",
                  "findings",
                  "fixed"
                ],
                "properties": {
                  "businessId": {
                    "type": "string",
                    "format": "uuid"
                  },
                  "shop": {
                    "type": [
                      "string",
                      "null"
                    ]
                  },
                  "generatedAt": {
                    "type": "string",
                    "format": "date-time"
                  },
                  "verdict": {
                    "$ref": "#/components/schemas/Verdict"
                  },
                  "findings": {
                    "type": "array",
                    "items": {
                      "type": "object",
                      "required": [
                        "check",
                        "title",
                        "verdict",
                        "evidence"
                      ],
                      "properties": {
                        "check": {
                          "type": "string"
                        },
                        "title": {
                          "type": "string"
                        },
                        "verdict": {
                          "$ref": "#/components/schemas/Verdict"
                        },
                        "evidence": {
                          "type": "array",
                          "items": {
                            "type": "string"
                          }
                        },
                        "action": {
                          "type": [
                            "string",
                            "null"
                          ]
                        }
                      }
                    }
                  },
                  "fixed": {
                    "type": "array",
                    "items": {
                      "type": "string"
                    }
                  }
                }
              },
              "Verdict": {
                "type": "string",
                "enum": [
                  "ok",
                  "warning",
                  "failing"
                ]
              },
              "OrderTrace": {
                "type": "object",
                "required": [
                  "orderId",
                  "steps",
                  "jobs",
                  "lines",
                  "notes"
                ],
                "properties": {
                  "orderId": {
                    "type": "integer"
                  },
                  "record": {
                    "type": [
                      "object",
                      "null"
                    ]
                  },
                  "steps": {
                    "type": "array",
                    "items": {
                      "type": "object",
                      "required": [
                        "at",
                        "kind",
                        "summary"
                      ],
                      "properties": {
                        "at": {
                          "type": "string",
                          "format": "date-time"
                        },
                        "kind": {
                          "type": "string"
                        },
                        "summary": {
                          "type": "string"
                        }
                      }
                    }
                  },
                  "jobs": {
                    "type": "array",
                    "items": {
                      "type": "object",
                      "required": [
                        "jobId",
                        "state"
                      ]
                    }
                  },
                  "lines": {
                    "type": "array",
                    "items": {
                      "type": "object"
                    }
                  },
                  "notes": {
                    "type": "array",
                    "items": {
                      "type": "string"
                    }
                  }
                }
              },
              "Readiness": {
                "type": "object",
                "required": [
                  "status",
                  "redis",
                  "postgres"
                ],
                "properties": {
                  "status": {
                    "type": "string",
                    "enum": [
                      "ready",
                      "unavailable"
                    ]
                  },
                  "redis": {
                    "type": "string",
                    "enum": [
                      "ok",
                      "down"
                    ]
                  },
                  "postgres": {
                    "type": "string",
                    "enum": [
                      "ok",
                      "down"
                    ]
                  }
                }
              }
            }
          }
        }
        """##
    // END DOCUMENT
}
